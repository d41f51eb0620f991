# SPDX-License-Identifier: GPL-3.0-or-later
# Makes the hf-long golden data with Hugging Face `tokenizers` (run where it is installed):
#   OUT=DIR python3 gen-hf-long.py
# A dense BPE vocabulary over a few letters (5,269 pieces, 7,287 merges, several per piece)
# and six 9,000-14,000-character lines without spaces: each is one BPE part, merged through
# the heap and, by default, in blocks.  cases.ref: T text, I ids, D decode.
import json,random,os
from tokenizers import Tokenizer
R=random.Random(11);O=os.environ['OUT']
L=list('abcdefghij')+['\u2581','\u00e9']
V={'<unk>':0}
for b in range(256):V['<0x%02X>'%b]=len(V)
for c in L:V[c]=len(V)
M=[];P=list(L)
while len(M)<5000:
 a=P[int(len(P)*R.random()**2)];b=P[int(len(P)*R.random()**2)];s=a+b
 if len(s)>8 or s in V:continue
 V[s]=len(V);P.append(s);M.append([a,b])
for t in P[len(L):]:
 for k in range(1,len(t)):
  p,q=t[:k],t[k:]
  if p in V and q in V and [p,q] not in M[-50:] and R.random()<.3:M.append([p,q])
T={'version':'1.0','added_tokens':[{'id':0,'content':'<unk>','special':True,'normalized':False,'lstrip':False,'rstrip':False,'single_word':False}],
'normalizer':{'type':'Replace','pattern':{'String':' '},'content':'\u2581'},'pre_tokenizer':None,'post_processor':None,
'decoder':{'type':'Sequence','decoders':[{'type':'Replace','pattern':{'String':'\u2581'},'content':' '},{'type':'ByteFallback'},{'type':'Fuse'}]},
'model':{'type':'BPE','dropout':None,'unk_token':'<unk>','fuse_unk':True,'byte_fallback':True,'ignore_merges':False,'vocab':V,'merges':M}}
json.dump(T,open(O+'/tok.json','w'))
t=Tokenizer.from_file(O+'/tok.json')
X=[];I=[];D=[]
for i in range(6):
 A=R.sample(L[:10],R.randrange(2,10))+['\u00e9','x']
 s=''.join(R.choice(A) for _ in range(R.randrange(9000,14000)))
 e=t.encode(s,add_special_tokens=False).ids;X.append(s);I.append(' '.join(map(str,e)));D.append(t.decode(e))
open(O+'/cases.ref','w').write(''.join('T %s\nI %s\nD %s\n'%z for z in zip(X,I,D)))
print(len(V),len(M))
